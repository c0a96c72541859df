"""Runs the Python snippets of docs/backend.md (docs/examples/) against a live
`comandera serve` and a live broker, for connector/mqtt's examples test.

Django is not installed for the test: the few names the view imports are
stood in for below, and requests reach the view through a plain http.server.
Environment: EXAMPLES_DIR, COMANDERA_URL, PRINTER_SECRET, CALLBACK_SECRET,
CALLBACK_PORT, MQTT_HOST, MQTT_PORT, MQTT_PREFIX. Prints one JSON summary
line; exits 1 on the first failed check.
"""

import http.server
import json
import os
import sys
import threading
import time
import types

sys.path.insert(0, os.environ["EXAMPLES_DIR"])


def fail(msg):
    print(json.dumps({"ok": False, "error": msg}), flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def install_django_stand_ins(secret):
    def module(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules[name] = m
        return m

    class Cache:
        def __init__(self):
            self.data, self.lock = {}, threading.Lock()

        def add(self, key, value, timeout=None):
            with self.lock:
                if key in self.data:
                    return False
                self.data[key] = value
                return True

        def set(self, key, value, timeout=None):
            with self.lock:
                self.data[key] = value

        def get(self, key, default=None):
            with self.lock:
                return self.data.get(key, default)

    class HttpResponse:
        status_code = 200

        def __init__(self, content=b"", status=None):
            self.content = content
            if status is not None:
                self.status_code = status

    class HttpResponseForbidden(HttpResponse):
        status_code = 403

    class HttpResponseBadRequest(HttpResponse):
        status_code = 400

    def require_POST(view):
        def wrapped(request):
            if request.method != "POST":
                return HttpResponse(status=405)
            return view(request)
        return wrapped

    module("django")
    module("django.conf", settings=types.SimpleNamespace(
        COMANDERA_CALLBACK_SECRET=secret,
        COMANDERA_MQTT_HOST=env["MQTT_HOST"], COMANDERA_MQTT_PORT=int(env["MQTT_PORT"]),
        COMANDERA_MQTT_TLS=False, COMANDERA_MQTT_USERNAME=None, COMANDERA_MQTT_PASSWORD=None,
        COMANDERA_MQTT_CA=None, COMANDERA_MQTT_CLIENT_ID="backend-listener-" + str(os.getpid())))
    module("django.core")
    module("django.core.cache", cache=Cache())
    module("django.http", HttpResponse=HttpResponse, HttpResponseForbidden=HttpResponseForbidden,
           HttpResponseBadRequest=HttpResponseBadRequest)
    module("django.views")
    module("django.views.decorators")
    module("django.views.decorators.csrf", csrf_exempt=lambda view: view)
    module("django.views.decorators.http", require_POST=require_POST)


env = os.environ
secret = env["CALLBACK_SECRET"]
install_django_stand_ins(secret)

import logging  # noqa: E402

import comandera_http  # noqa: E402
import comandera_mqtt  # noqa: E402
import comandera_signature  # noqa: E402
import django_views  # noqa: E402
import orders  # noqa: E402
from django.core.cache import cache  # noqa: E402  (the stand-in)


class Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


logged = Records()
logging.getLogger("comandera").addHandler(logged)

# Every event the handler applied, by job ID and state.
applied = []
applied_lock = threading.Lock()
original_handler = django_views.handle_job_event


def recording_handler(event):
    fresh = original_handler(event)
    with applied_lock:
        applied.append((event["job"]["job_id"], event["job"].get("idempotency_key"), event["state"], fresh))
    return fresh


django_views.handle_job_event = recording_handler


def wait_applied(pred, what, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with applied_lock:
            if any(pred(a) for a in applied):
                return
        time.sleep(0.05)
    fail(f"no {what} after {timeout}s; applied: {applied}")


class Callbacks(http.server.BaseHTTPRequestHandler):
    """Hands each POST to the Django view, as Django would."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        request = types.SimpleNamespace(method="POST", body=body, headers=self.headers)
        response = django_views.comandera_callback(request)
        self.send_response(response.status_code)
        self.end_headers()

    def log_message(self, *args):
        pass


callbacks = http.server.ThreadingHTTPServer(("127.0.0.1", int(env["CALLBACK_PORT"])), Callbacks)
threading.Thread(target=callbacks.serve_forever, daemon=True).start()
callback_url = f"http://127.0.0.1:{env['CALLBACK_PORT']}/comandera/callback"

summary = {}

# --- HTTP ---
order = {"id": 8812, "table": 12, "waiter": "Lucía", "items": [
    {"qty": 2, "name": "Tortilla española", "price": "17,00 €", "note": "TICKET PY-HTTP-1"},
    {"qty": 1, "name": "Caña", "price": "2,50 €"},
]}
api = comandera_http.ComanderaHTTP(env["COMANDERA_URL"], env["PRINTER_SECRET"])
job = orders.send_order_over_http(api, order, callback_url)
check(job["state"] in ("queued", "printing", "printed"), f"send_order_over_http: {job}")
again = orders.send_order_over_http(api, order, callback_url)
check(again["job_id"] == job["job_id"] and again.get("existed"), f"retry returned another job: {again}")
wait_applied(lambda a: a[0] == job["job_id"] and a[2] == "printed", "printed callback for the HTTP job")
check(api.job(job["job_id"])["state"] == "printed", "GET /jobs/{id} is not printed")
try:
    api.print_ticket("terrace", orders.kitchen_ticket(order), "order-8812-terrace")
    fail("an unknown printer was accepted")
except comandera_http.ComanderaError as e:
    check(e.status == 404 and e.code == "unknown_printer", f"unknown printer: {e}")

# A forged callback is refused by the view; a tampered body does not verify.
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402

forged = json.dumps({"event_id": "x", "timestamp": int(time.time()), "state": "printed", "job": {}}).encode()
req = urllib.request.Request(callback_url, data=forged, method="POST", headers={
    "X-Comandera-Signature": comandera_signature.sign(b"wrong secret", forged),
    "X-Comandera-Timestamp": str(int(time.time())), "X-Comandera-Event": "x"})
try:
    urllib.request.urlopen(req, timeout=5)
    fail("a forged callback was accepted")
except urllib.error.HTTPError as e:
    check(e.code == 403, f"forged callback answered {e.code}")
summary["http_job"] = job["job_id"]

# --- MQTT ---
prefix = env["MQTT_PREFIX"]
box_name = prefix.rsplit("/", 1)[1]
box = django_views.start_mqtt_listener()
order2 = dict(order, id=8813, items=[{"qty": 1, "name": "Pulpo a la gallega", "note": "TICKET PY-MQTT-1"}])
orders.send_order_over_mqtt(box, prefix, order2)
orders.send_order_over_mqtt(box, prefix, order2)  # sent twice: printed once
wait_applied(lambda a: a[1] == "order-8813-kitchen" and a[2] == "printed", "printed event over MQTT")
with applied_lock:
    printed = [a for a in applied if a[1] == "order-8813-kitchen" and a[2] == "printed"]
check(len({a[0] for a in printed}) == 1, f"the duplicate made another job: {printed}")

status = box.request(prefix, "status")
check(status["status"] == 200 and status["result"]["printers"][0]["name"] == "kitchen", f"status: {status}")
mjob = box.request(prefix, "jobs", {"printer": "kitchen", "state": "printed"})
check(mjob["status"] == 200 and any(j.get("idempotency_key") == "order-8813-kitchen" for j in mjob["result"]["jobs"]),
      f"jobs: {mjob}")
bad = box.request(prefix, "cancel", {"job_id": printed[0][0]})
check(bad["status"] == 409 and bad["error"]["code"] == "job_not_queued", f"cancel a printed job: {bad}")
deadline = time.time() + 10
while not (cache.get(f"comandera-status:{box_name}") or {}).get("online") and time.time() < deadline:
    time.sleep(0.05)
check((cache.get(f"comandera-status:{box_name}") or {}).get("online"), "no online status in the cache")
box.send_job(prefix, {"printer": "terrace", "content": "x"})
deadline = time.time() + 10
while not any("refused a job (unknown_printer)" in m for m in logged.messages) and time.time() < deadline:
    time.sleep(0.05)
check(any("refused a job (unknown_printer)" in m for m in logged.messages), f"no refusal logged: {logged.messages}")
try:
    comandera_signature.verify_mqtt(secret.encode(), b'{"state": "printed"}', [("X-Comandera-Signature", "sha256=00")])
    fail("a forged MQTT message verified")
except comandera_signature.InvalidSignature:
    pass
box.close()

# The listener is away: a job printed now has its events held by the broker
# in the listener's persistent session, and delivered when it reconnects.
sender = comandera_mqtt.ComanderaMQTT(env["MQTT_HOST"], int(env["MQTT_PORT"]), secret=secret.encode(), tls=False)
order3 = dict(order, id=8814, items=[{"qty": 1, "name": "Croquetas", "note": "TICKET PY-MQTT-2"}])
orders.send_order_over_mqtt(sender, prefix, order3)
deadline = time.time() + 30
while time.time() < deadline:
    r = sender.request(prefix, "jobs", {"printer": "kitchen", "state": "printed"})
    if r["status"] == 200 and any(j.get("idempotency_key") == "order-8814-kitchen" for j in r["result"]["jobs"]):
        break
    time.sleep(0.1)
else:
    fail("order 8814 did not print")
sender.close()
with applied_lock:
    check(not any(a[1] == "order-8814-kitchen" for a in applied), "an event reached the closed listener")
box = django_views.start_mqtt_listener()
wait_applied(lambda a: a[1] == "order-8814-kitchen" and a[2] == "printed", "the printed event held while the listener was away")
box.close()
summary["mqtt_job"] = printed[0][0]
summary["ok"] = True
summary["events_applied"] = len(applied)
print(json.dumps(summary), flush=True)
