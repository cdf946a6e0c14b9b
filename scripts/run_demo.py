"""`make run`: the whole demo on one machine — Microsoft 365 simulator, database, worker, portal.

Starts each part as a child process (the portal under gunicorn, as in production), creates the demo
organisation and its admin, prints the portal's address and the admin's e-mail and password, and stops
them all on Ctrl-C.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"
PY = sys.executable
DEMO_ORG = "demo"
SIM_PORT = int(os.environ.get("SIGSYNC_SIM_PORT", "8443"))
SIM_USERS = os.environ.get("SIGSYNC_DEMO_USERS", "500")
PORTAL_PORT = int(os.environ.get("SIGSYNC_PORT", "5000"))
DEMO_ADMIN_EMAIL = "admin@demo.example"
DEMO_ADMIN_PASSWORD = os.environ.get("SIGSYNC_DEMO_PASSWORD", "sigsync-demo-password")

children: list[subprocess.Popen] = []


def say(text: str) -> None:
    print(f"[sigsync] {text}", flush=True)


def fail(text: str) -> None:
    say(f"cannot start: {text}")
    stop_all()
    sys.exit(1)


def spawn(args: list[str], env: dict[str, str], **kw) -> subprocess.Popen:
    proc = subprocess.Popen(args, cwd=ROOT, env=env, start_new_session=True, **kw)
    children.append(proc)
    return proc


def stop_all() -> None:
    for proc in reversed(children):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.time() + 5
    for proc in children:
        try:
            proc.wait(max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def ensure_redis(env: dict[str, str]) -> None:
    """Use REDIS_URL when it answers; else start a private redis-server; else say how to fix it."""
    url = env.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    parsed = urlparse(url)
    if port_open(parsed.hostname or "127.0.0.1", parsed.port or 6379):
        env["REDIS_URL"] = url
        say(f"Redis: using {url}")
        return
    server = shutil.which("redis-server")
    if not server:
        fail(f"Redis is not reachable at {url} and redis-server is not installed. "
             "Install it (sudo apt-get install redis-server) or set REDIS_URL to a running Redis.")
    port = free_port()
    spawn([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], env,
          stdout=subprocess.DEVNULL)
    wait_for(lambda: port_open("127.0.0.1", port), "redis-server", 5)
    env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    say(f"Redis: started a private redis-server on port {port}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, what: str, seconds: float) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.1)
    fail(f"{what} did not come up within {seconds:g} s")


def start_simulator(env: dict[str, str]) -> None:
    port = SIM_PORT if not port_open("127.0.0.1", SIM_PORT) else free_port()
    proc = spawn([PY, "-m", "simulator", "--users", SIM_USERS, "--port", str(port),
                  "--state-dir", str(INSTANCE / "simulator")], env, stdout=subprocess.PIPE, text=True)
    found: dict[str, str] = {}
    deadline = time.time() + 60
    while time.time() < deadline and "REQUESTS_CA_BUNDLE" not in found:
        line = proc.stdout.readline()
        if not line:
            fail("the Microsoft 365 simulator exited; run `python -m simulator` to see why")
        if line.startswith("#") and "Point the portal" not in line:
            say(line[1:].strip())
        match = re.match(r"export (\w+)=(.*)", line.strip())
        if match:
            found[match.group(1)] = match.group(2).strip("'\"")
    env.update(found)


def run(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        fail(f"{' '.join(args[2:])} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def flask(*args: str) -> list[str]:
    return [PY, "-m", "flask", "--app", "portal", *args]


def seed_demo(env: dict[str, str]) -> None:
    """A demo organisation connected to the simulator's tenant, with a first sync queued for the worker."""
    run(flask("init-db"), env)
    exists = subprocess.run(flask("employees", "export", DEMO_ORG), cwd=ROOT, env=env, capture_output=True)
    if exists.returncode != 0:
        run(flask("org", "create", DEMO_ORG, "--name", "Contoso (demo)", "--timezone", "Europe/Berlin"), env)
    connected = subprocess.run(flask("m365", "config", DEMO_ORG, "--export"), cwd=ROOT, env=env,
                               capture_output=True)
    if connected.returncode != 0:
        run(flask("m365", "connect", DEMO_ORG, "--tenant", env["MS_TENANT_ID"], "--app-only"), env)
    say("demo organisation 'demo' is connected to the simulator's tenant")
    ensure_demo_admin(env)
    env_file = INSTANCE / "demo.env"
    keys = ("DATABASE_URL", "REDIS_URL", "MS_AUTHORITY_HOST", "MS_TENANT_ID", "MS_CLIENT_ID", "MS_CLIENT_SECRET",
            "GRAPH_URL", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
    env_file.write_text("".join(f"export {k}='{env.get(k, '')}'\n" for k in keys))


def ensure_demo_admin(env: dict[str, str]) -> None:
    """The demo's admin, with the password printed at the end (reset to it if the admin exists already)."""
    password = DEMO_ADMIN_PASSWORD + "\n"
    created = subprocess.run(flask("admin", "create", DEMO_ADMIN_EMAIL, "--org", DEMO_ORG, "--name", "Demo Admin",
                                   "--password-stdin"), cwd=ROOT, env=env, input=password, capture_output=True,
                             text=True)
    if created.returncode != 0:
        reset = subprocess.run(flask("admin", "password", DEMO_ADMIN_EMAIL, "--password-stdin"), cwd=ROOT, env=env,
                               input=password, capture_output=True, text=True)
        if reset.returncode != 0:
            fail(f"could not create the demo admin:\n{created.stdout}{created.stderr}{reset.stdout}{reset.stderr}")


def portal_port() -> int:
    """SIGSYNC_PORT (5000) when free; else any free port (the simulator accepts any loopback port)."""
    if not port_open("127.0.0.1", PORTAL_PORT):
        return PORTAL_PORT
    port = free_port()
    say(f"port {PORTAL_PORT} is taken; the portal uses port {port}")
    return port


def main() -> int:
    INSTANCE.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", f"sqlite:///{INSTANCE / 'sigsync.db'}")
    env["PYTHONUNBUFFERED"] = "1"
    port = portal_port()
    url = f"http://127.0.0.1:{port}"
    env["SIGSYNC_PUBLIC_URL"] = url  # where Microsoft's consent page sends the admin back
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C stops the demo even if started in the background
    try:
        ensure_redis(env)
        start_simulator(env)
        seed_demo(env)
        worker = spawn([PY, "worker.py"], env)
        queued = run(flask("m365", "sync", DEMO_ORG, "--queue"), env).strip().splitlines()[-1]
        say(f"first sync handed to the worker: {queued}")
        gunicorn = str(Path(PY).with_name("gunicorn"))
        portal = spawn([gunicorn, "--workers", "2", "--threads", "4", "--bind", f"127.0.0.1:{port}",
                        "--graceful-timeout", "5", "portal:create_app()"], env)
        wait_for(lambda: port_open("127.0.0.1", port), "the portal", 30)
        say("")
        say(f"Portal:    {url}   (gunicorn; health: {url}/healthz)")
        say(f"Sign in:   {DEMO_ADMIN_EMAIL}  /  {DEMO_ADMIN_PASSWORD}")
        say("Microsoft 365 admin (the simulator's consent page, after Disconnect → Connect with Microsoft): "
            "admin@contoso.example  /  Sim-Admin-Pass-1")
        say("The CLI works on the same data: source instance/demo.env && .venv/bin/flask --app portal --help")
        say(f"Simulator control: {env['MS_AUTHORITY_HOST']}/_sim/health   Press Ctrl-C to stop everything.")
        while all(p.poll() is None for p in (worker, portal)):
            time.sleep(0.5)
        fail("a child process stopped unexpectedly (see its output above)")
    except KeyboardInterrupt:
        say("stopping")
    finally:
        stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
