/* ingest/schema.c - generated from config/schemas/event.avsc; keep them equal (tested). */
#include "ingest/schema.h"

static const char event_schema[] =
    "{\n"
    "  \"type\": \"record\",\n"
    "  \"name\": \"Event\",\n"
    "  \"namespace\": \"streamrec\",\n"
    "  \"doc\": \"One user interaction. See DESIGN.md, Events.\",\n"
    "  \"fields\": [\n"
    "    {\"name\": \"event_id\", \"type\": [\"null\", \"string\"], \"default\": null},\n"
    "    {\"name\": \"ts\", \"type\": {\"type\": \"long\", \"logicalType\": "
    "\"timestamp-millis\"}},\n"
    "    {\"name\": \"user_id\", \"type\": \"string\"},\n"
    "    {\"name\": \"item_id\", \"type\": \"string\"},\n"
    "    {\"name\": \"type\", \"type\": {\"type\": \"enum\", \"name\": \"EventType\",\n"
    "                              \"symbols\": [\"VIEW\", \"CLICK\", \"ADD_TO_CART\", "
    "\"FAVORITE\", \"PURCHASE\"]}},\n"
    "    {\"name\": \"price\", \"type\": [\"null\", \"double\"], \"default\": null},\n"
    "    {\"name\": \"quantity\", \"type\": [\"null\", \"int\"], \"default\": null},\n"
    "    {\"name\": \"session_id\", \"type\": [\"null\", \"string\"], \"default\": null}\n"
    "  ]\n"
    "}\n";

const char *ingest_event_schema_json(void)
{
    return event_schema;
}
