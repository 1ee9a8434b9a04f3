#!/bin/sh
# tests/e2e/docker_lint.sh - docker/ without a Docker engine: compose.yaml
# parses and runs a KRaft Kafka (no ZooKeeper), Redis, `streamrec run -c`
# with a mounted config and a one-shot producer; every file the Dockerfile
# and compose.yaml reference exists; the Dockerfile's build stage installs
# exactly scripts/deps.sh's build packages and its runtime stage the
# packages of every library build/streamrec links; the runtime is non-root
# with ENTRYPOINT ["streamrec"]; the mounted config passes
# `streamrec config --check` and points at the compose services.
set -u
BIN=${SR_BIN:-build/streamrec}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }

if ! [ -x "$PY" ] || ! "$PY" -c 'import yaml' 2>/dev/null; then
    echo "docker_lint: python3-yaml not installed (scripts/deps.sh); skipped"
    echo "docker_lint: 0 passed, 0 failed"
    exit 0
fi

# The config compose mounts passes the same check the daemon runs.
if "$BIN" config --check -c "$ROOT/docker/streamrec.ini" >"$T/out" 2>&1; then ok; else
    bad "config --check -c docker/streamrec.ini: $(cat "$T/out")"
fi

# Packages providing the libraries build/streamrec links (NEEDED), but libc's.
needed=""
if command -v objdump >/dev/null 2>&1 && [ -f "$BIN" ]; then
    for lib in $(objdump -p "$BIN" | awk '$1 == "NEEDED" {print $2}'); do
        path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64|x86_64|aarch64/ {print $NF; exit}')
        [ -n "$path" ] || { bad "cannot find $lib (ldconfig -p)"; continue; }
        pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -1 | cut -d: -f1)
        [ -n "$pkg" ] || pkg=$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1)
        [ -n "$pkg" ] || { bad "no package owns $path"; continue; }
        [ "$pkg" = libc6 ] || needed="$needed $pkg"
    done
else
    echo "docker_lint: objdump or $BIN missing; runtime packages not checked"
fi

# The rest reads YAML, INI and the Dockerfile in Python; it prints one
# "ok WHAT" or "FAIL WHAT: why" line per check.
BUILD_PKGS=$(sh "$ROOT/scripts/deps.sh" --list build | tr '\n' ' ') NEEDED_PKGS="$needed" \
    ROOT="$ROOT" "$PY" - >"$T/py" 2>&1 <<'EOF'
import configparser, json, os, re, shlex, sys
import yaml

root = os.environ["ROOT"]
docker = os.path.join(root, "docker")

def ok(what):
    print("ok " + what)

def check(cond, what, why=""):
    print(("ok " if cond else "FAIL ") + what + ("" if cond else ": " + why))

# ---- compose.yaml -------------------------------------------------------
try:
    with open(os.path.join(docker, "compose.yaml")) as f:
        compose = yaml.safe_load(f)
    ok("compose.yaml parses")
except Exception as e:
    print("FAIL compose.yaml parses: %s" % e)
    sys.exit(0)

services = compose.get("services") or {}
for name in ("kafka", "redis", "streamrec", "producer"):
    check(name in services, "service " + name, "missing; services: %s" % sorted(services))
text = yaml.safe_dump(compose).lower()
check("zookeeper" not in text, "no ZooKeeper", "compose.yaml mentions zookeeper")
kenv = (services.get("kafka") or {}).get("environment") or {}
if isinstance(kenv, list):
    kenv = dict(e.split("=", 1) for e in kenv)
roles = str(kenv.get("KAFKA_PROCESS_ROLES", kenv.get("KAFKA_CFG_PROCESS_ROLES", "")))
check("broker" in roles and "controller" in roles, "kafka is a single KRaft node",
      "process roles '%s'" % roles)
kimage = str((services.get("kafka") or {}).get("image", ""))
check(kimage.startswith(("apache/kafka", "bitnami/kafka")), "kafka image", kimage)

# Every build context, Dockerfile and bind-mounted host path exists.
mounts = {}  # container path -> host path, of the streamrec service
n_refs = 0
for name, svc in services.items():
    b = svc.get("build")
    if b is not None:
        ctx = b if isinstance(b, str) else b.get("context", ".")
        ctxp = os.path.normpath(os.path.join(docker, ctx))
        check(os.path.isdir(ctxp), "%s: build context %s exists" % (name, ctx), ctxp)
        df = "Dockerfile" if isinstance(b, str) else b.get("dockerfile", "Dockerfile")
        dfp = os.path.join(ctxp, df)
        check(os.path.isfile(dfp), "%s: dockerfile %s exists" % (name, df), dfp)
        n_refs += 2
    for v in svc.get("volumes") or []:
        src, _, rest = (v if isinstance(v, str) else "%s:%s" % (v["source"], v["target"])).partition(":")
        target = rest.split(":")[0]
        if src.startswith((".", "/")):
            hp = os.path.normpath(os.path.join(docker, src))
            check(os.path.exists(hp), "%s: mounted %s exists" % (name, src), hp)
            n_refs += 1
            if name == "streamrec":
                mounts[target] = hp
        else:
            check(src in (compose.get("volumes") or {}), "%s: volume %s declared" % (name, src),
                  "not under volumes:")
check(n_refs >= 3, "compose references checked", "only %d" % n_refs)

# streamrec runs `run -c FILE` and FILE is the mounted docker/streamrec.ini.
sr = services.get("streamrec") or {}
cmd = sr.get("command") or []
cmd = shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]
cfg = cmd[cmd.index("-c") + 1] if "-c" in cmd and cmd.index("-c") + 1 < len(cmd) else None
check(cmd[:1] == ["run"] and cfg is not None, "streamrec command is run -c FILE", str(cmd))
ini_path = os.path.join(docker, "streamrec.ini")
check(cfg in mounts and os.path.exists(mounts[cfg]) and os.path.samefile(mounts[cfg], ini_path),
      "the config streamrec reads is docker/streamrec.ini, mounted",
      "-c %s; mounts %s" % (cfg, mounts))
check("entrypoint" not in sr, "streamrec uses the image's ENTRYPOINT", "entrypoint overridden")

# The config points at the compose services.
ini = configparser.ConfigParser(inline_comment_prefixes=None, strict=True, interpolation=None)
ini.read(ini_path)
host = ini.get("redis", "host", fallback="")
check(host in services, "redis.host is a compose service", "'%s'" % host)
boot = ini.get("kafka", "bootstrap.servers", fallback="")
bhosts = [b.strip().rsplit(":", 1)[0] for b in boot.split(",") if b.strip()]
check(bhosts and all(h in services for h in bhosts), "bootstrap.servers are compose services",
      "'%s'" % boot)

# The producer is one-shot and produces to the compose kafka.
prod = services.get("producer") or {}
pcmd = prod.get("command") or ""
pcmd = pcmd if isinstance(pcmd, str) else " ".join(map(str, pcmd))
check("streamrec produce" in pcmd and re.search(r"-b\s+(%s)(:\d+)?\s" % "|".join(map(re.escape, bhosts or ["kafka"])), pcmd),
      "producer runs streamrec produce -b <kafka service>", pcmd)
check(str(prod.get("restart", "no")) == "no", "producer is one-shot", str(prod.get("restart")))
check(prod.get("image") == sr.get("image"), "producer runs the streamrec image",
      "%s vs %s" % (prod.get("image"), sr.get("image")))

# ---- Dockerfile ---------------------------------------------------------
lines, cur = [], ""
with open(os.path.join(docker, "Dockerfile")) as f:
    for raw in f:
        s = raw.rstrip("\n")
        if not cur and (s.strip().startswith("#") or not s.strip()):
            continue
        if s.strip().startswith("#"):
            continue
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        lines.append((cur + s).strip())
        cur = ""
stages = []  # [(from line, [instructions])]
for l in lines:
    op = l.split(None, 1)[0].upper()
    if op == "FROM":
        stages.append((l, []))
    elif stages:
        stages[-1][1].append(l)
check(len(stages) >= 2, "Dockerfile is multi-stage", "%d stages" % len(stages))
check(re.match(r"FROM\s+debian:(12|bookworm)", stages[0][0], re.I) is not None,
      "build stage is Debian 12", stages[0][0])
check(re.match(r"FROM\s+debian:(12|bookworm)", stages[-1][0], re.I) is not None,
      "runtime stage is Debian 12", stages[-1][0])

def apt_packages(instrs):
    pk = []
    for l in instrs:
        if not l.upper().startswith("RUN"):
            continue
        for part in re.split(r"&&|;", l):
            w = part.split()
            if "apt-get" in w and "install" in w:
                pk += [x for x in w[w.index("install") + 1:] if not x.startswith("-")]
    return pk

want = set(os.environ["BUILD_PKGS"].split())
got = set(apt_packages(stages[0][1]))
check(got == want, "build stage installs scripts/deps.sh's build packages",
      "missing %s, extra %s" % (sorted(want - got), sorted(got - want)))
check(any(re.match(r"RUN\s.*\bmake\b", l) for l in stages[0][1]), "build stage runs make", "")
rt = set(apt_packages(stages[-1][1]))
needed = set(os.environ.get("NEEDED_PKGS", "").split())
if needed:
    check(needed <= rt, "runtime stage installs the packages of every linked library",
          "missing %s" % sorted(needed - rt))
check(not any(p.endswith("-dev") for p in rt) and "build-essential" not in rt,
      "runtime stage has no build packages", sorted(rt))

# COPY sources exist in the build context (the repo root); --from copies
# come from an earlier stage.
for l in (x for _, ins in stages for x in ins):
    w = shlex.split(l)
    if w[0].upper() not in ("COPY", "ADD"):
        continue
    opts = [x for x in w[1:] if x.startswith("--")]
    args = [x for x in w[1:] if not x.startswith("--")]
    if any(o.startswith("--from") for o in opts):
        continue
    for src in args[:-1]:
        check(os.path.exists(os.path.join(root, src)), "COPY %s exists" % src, "")

final = stages[-1][1]
users = [l.split(None, 1)[1] for l in final if l.upper().startswith("USER ")]
check(users and users[-1] not in ("root", "0", "0:0"), "runtime runs as a non-root user", str(users))
eps = [l.split(None, 1)[1] for l in final if l.upper().startswith("ENTRYPOINT ")]
check(eps and json.loads(eps[-1]) == ["streamrec"], 'ENTRYPOINT ["streamrec"]', str(eps))
copies = " ".join(l for l in final if l.upper().startswith("COPY"))
check("/src/build/streamrec" in copies, "runtime copies the built binary", copies)
EOF
if [ ! -s "$T/py" ]; then bad "lint script printed nothing"; fi
while IFS= read -r line; do
    case "$line" in
    ok\ *) ok ;;
    FAIL\ *) bad "${line#FAIL }" ;;
    *) bad "python: $line" ;;
    esac
done <"$T/py"

echo "docker_lint: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
