"""Django views and handlers for what Comandera boxes report.

Wire the view in urls.py:

    path("comandera/callback", views.comandera_callback)

and put in settings COMANDERA_CALLBACK_SECRET (the boxes' server.callback_secret,
or their token when they have none) and, for MQTT, COMANDERA_MQTT_HOST,
COMANDERA_MQTT_PORT, COMANDERA_MQTT_TLS, COMANDERA_MQTT_USERNAME,
COMANDERA_MQTT_PASSWORD and COMANDERA_MQTT_CA (a CA file, or None for the
system's).
"""

import logging

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from comandera_mqtt import ComanderaMQTT
from comandera_signature import InvalidSignature, verify_callback

log = logging.getLogger("comandera")


# [START handle_job_event]
def handle_job_event(event):
    """Apply one job event, from an HTTP callback or from MQTT.

    event is the callback body: event_id, time, previous_state, state and
    job (job_id, printer, state, idempotency_key, metadata, last_error…).
    Replace the log line with your model update, e.g.
    Ticket.objects.filter(idempotency_key=job["idempotency_key"]).update(state=event["state"]).
    """
    # At least once: the same event may come twice (a retried callback, a
    # redelivered MQTT message). Remember event_ids for a day.
    if not cache.add(f"comandera-event:{event['event_id']}", 1, timeout=86400):
        return False
    job = event["job"]
    if event["state"] == "failed":
        log.error("ticket %s failed on %s: %s", job["job_id"], job["printer"], job.get("last_error"))
    else:
        log.info("ticket %s is %s on %s", job["job_id"], event["state"], job["printer"])
    return True
# [END handle_job_event]


# [START callback_view]
@csrf_exempt
@require_POST
def comandera_callback(request):
    """The callback_url of the jobs sent over HTTP: POSTed on every state change."""
    try:
        event = verify_callback(settings.COMANDERA_CALLBACK_SECRET.encode(), request.body, request.headers)
    except InvalidSignature as e:
        log.warning("refused a Comandera callback: %s", e)
        return HttpResponseForbidden("bad signature")
    except (ValueError, KeyError):
        return HttpResponseBadRequest("not a Comandera callback")
    handle_job_event(event)
    return HttpResponse(status=204)  # any 2xx: delivered; anything else is retried
# [END callback_view]


# [START on_box_message]
def on_box_message(topic, body):
    """Apply a verified message from a box: comandera/<box>/events, /status or /errors."""
    _, box, kind = topic.rsplit("/", 2)
    if kind == "events":
        handle_job_event(body)  # the same handler as the HTTP callbacks
    elif kind == "status":
        # Retained: on connecting, the listener gets every box's last status.
        # {"online": false, "reason": "connection lost"} is the box's will.
        cache.set(f"comandera-status:{box}", body, timeout=None)
    elif kind == "errors":
        log.error("box %s refused a job (%s): %s", box, body["error"]["code"], body["error"]["message"])
# [END on_box_message]


# [START mqtt_listener]
def start_mqtt_listener():
    """Connect to the broker and apply what every box publishes, in paho's
    network thread. Call it once, in one long-running process."""
    return ComanderaMQTT(
        settings.COMANDERA_MQTT_HOST, settings.COMANDERA_MQTT_PORT,
        secret=settings.COMANDERA_CALLBACK_SECRET.encode(),
        username=settings.COMANDERA_MQTT_USERNAME, password=settings.COMANDERA_MQTT_PASSWORD,
        tls=settings.COMANDERA_MQTT_TLS, ca_certs=settings.COMANDERA_MQTT_CA,
        subscriptions=["comandera/+/events", "comandera/+/status", "comandera/+/errors"],
        on_message=on_box_message,
        # A fixed client ID and a persistent session: events published while
        # this listener is down wait at the broker for a day.
        client_id=settings.COMANDERA_MQTT_CLIENT_ID, session_expiry=24 * 3600)
# [END mqtt_listener]
