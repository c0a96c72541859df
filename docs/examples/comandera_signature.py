"""Verify what a Comandera box sends: HTTP callbacks and MQTT messages.

Both are signed the same way: "sha256=" and the hex HMAC-SHA256 of the
exact bytes of the body, keyed with the box's callback secret
(server.callback_secret in printers.hcl, else its API token).
"""

import hashlib
import hmac
import json
import time


class InvalidSignature(Exception):
    """The message is not from a box that knows the secret, or was changed."""


# [START sign]
def sign(secret, body):
    """The X-Comandera-Signature value for body (bytes), keyed with secret (bytes)."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
# [END sign]


# [START verify_callback]
def verify_callback(secret, body, headers, tolerance=300, now=None):
    """Check an HTTP callback and return its event (a dict).

    body is the raw request body (bytes, as received: never re-encoded JSON),
    headers a mapping such as Django's request.headers. The timestamp is
    signed (it is in the body too), so an old callback replayed later is
    refused; deduplicate on event_id, since delivery is at least once.
    """
    signature = headers.get("X-Comandera-Signature", "")
    if not hmac.compare_digest(sign(secret, body).encode(), signature.encode()):
        raise InvalidSignature("bad or missing X-Comandera-Signature")
    event = json.loads(body)
    if str(event.get("timestamp")) != headers.get("X-Comandera-Timestamp"):
        raise InvalidSignature("X-Comandera-Timestamp differs from the signed body")
    if headers.get("X-Comandera-Event") != event.get("event_id"):
        raise InvalidSignature("X-Comandera-Event differs from the signed body")
    now = time.time() if now is None else now
    if abs(now - event["timestamp"]) > tolerance:
        raise InvalidSignature("stale timestamp: a replay, or a clock out of sync")
    return event
# [END verify_callback]


# [START verify_mqtt]
def verify_mqtt(secret, payload, user_properties, envelope=False):
    """Check a message published by a box over MQTT and return its body (a dict).

    user_properties is the MQTT 5 user property list (paho-mqtt:
    getattr(msg.properties, "UserProperty", [])). With the connector's
    envelope = true (MQTT 3.1.1 brokers and bridges, which drop user
    properties) the payload is {"body": "<JSON text>", "signature": "..."}.

    An event's timestamp is when it was signed, which is earlier than its
    arrival after a network outage: deduplicate on event_id rather than
    refusing old timestamps.
    """
    if envelope:
        wrapper = json.loads(payload)
        body, signature = wrapper["body"].encode("utf-8"), wrapper.get("signature", "")
    else:
        body, signature = payload, dict(user_properties or []).get("X-Comandera-Signature", "")
    if not hmac.compare_digest(sign(secret, body).encode(), signature.encode()):
        raise InvalidSignature("bad or missing signature")
    return json.loads(body)
# [END verify_mqtt]
