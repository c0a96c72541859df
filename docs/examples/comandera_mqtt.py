"""Send jobs to Comandera boxes and follow their events over MQTT, with paho-mqtt.

Each box connects out to the broker and listens on {prefix}/jobs and
{prefix}/requests/{op}; it publishes {prefix}/events, {prefix}/status and
{prefix}/errors. docs/mqtt.md is the protocol; docs/backend.md explains this
file. Works with paho-mqtt 1.6 (Debian 12) and 2.x.
"""

import json
import logging
import threading
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from comandera_signature import InvalidSignature, verify_mqtt

log = logging.getLogger("comandera")


def new_client(client_id):
    """A paho-mqtt client that speaks MQTT 5, on paho-mqtt 1.x or 2.x."""
    try:
        return mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    except AttributeError:  # paho-mqtt 1.x has no CallbackAPIVersion
        return mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv5)


def failed(reason_code):
    """Whether an MQTT 5 reason code (an object in paho, or an int) is a failure."""
    return getattr(reason_code, "value", reason_code) >= 0x80


# [START mqtt_client]
class ComanderaMQTT:
    """One backend connection to the broker, for every box of the fleet."""

    def __init__(self, host, port=8883, secret=b"", subscriptions=(), on_message=None,
                 username=None, password=None, tls=True, ca_certs=None, certfile=None,
                 keyfile=None, envelope=False, client_id=None, session_expiry=0, timeout=10):
        self.secret, self.envelope, self.timeout = secret, envelope, timeout
        self.on_message = on_message  # called as on_message(topic, body) for verified messages
        self.client_id = client_id or "backend-" + uuid.uuid4().hex[:12]
        self.replies = f"backends/{self.client_id}/replies"
        self.subscriptions = [self.replies, *subscriptions]
        self._waiting = {}  # correlation data -> [threading.Event, reply]
        self._subscribed = threading.Event()
        self._lock = threading.Lock()
        self.client = new_client(self.client_id)
        if username:
            self.client.username_pw_set(username, password)
        if tls:  # mqtts://: the broker's CA, and a client certificate for mutual TLS
            self.client.tls_set(ca_certs=ca_certs, certfile=certfile, keyfile=keyfile)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        connect = Properties(PacketTypes.CONNECT)
        if session_expiry:
            # A persistent session (a fixed client_id, clean start off): the
            # broker keeps QoS 1 events for this client while it is away.
            connect.SessionExpiryInterval = session_expiry
        self.client.connect(host, port, keepalive=30, clean_start=not session_expiry, properties=connect)
        self.client.loop_start()  # a network thread; it reconnects by itself
        if not self._subscribed.wait(timeout):
            self.close()
            raise TimeoutError(f"no connection to the MQTT broker {host}:{port}")

    def send_job(self, prefix, job):
        """Publish a job (the JSON of POST /print) to a box at QoS 1.

        Returns once the broker has it. The broker keeps it for the box while
        the box is offline; the box prints it once, even if the broker
        delivers it twice, thanks to the idempotency key.
        """
        info = self.client.publish(f"{prefix}/jobs", json.dumps(job).encode("utf-8"), qos=1)
        info.wait_for_publish(self.timeout)
        if not info.is_published():
            raise TimeoutError("the broker did not acknowledge the job")

    def request(self, prefix, op, body=None, timeout=None):
        """Ask a box something (test, scan, status, health, job, jobs, cancel,
        reprint, print) and return its reply: {"op", "status", "result"} or
        {"op", "status", "error": {"code", "message"}}, as the HTTP API would.
        """
        correlation = uuid.uuid4().hex.encode()
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = self.replies
        props.CorrelationData = correlation
        waiter = [threading.Event(), None]
        with self._lock:
            self._waiting[correlation] = waiter
        try:
            self.client.publish(f"{prefix}/requests/{op}", json.dumps(body or {}), qos=1, properties=props)
            if not waiter[0].wait(timeout or self.timeout):
                raise TimeoutError(f"no reply to {op} from {prefix} (is the box online?)")
            return waiter[1]
        finally:
            with self._lock:
                self._waiting.pop(correlation, None)

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()

    def _on_connect(self, client, userdata, flags, reason_code, properties=None):
        if failed(reason_code):
            log.error("MQTT connection refused: %s", reason_code)
            return
        client.subscribe([(topic, 1) for topic in self.subscriptions])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties=None):
        self._subscribed.set()

    def _on_message(self, client, userdata, msg):
        try:
            body = verify_mqtt(self.secret, msg.payload, getattr(msg.properties, "UserProperty", []),
                               envelope=self.envelope)
        except (InvalidSignature, ValueError, KeyError) as e:
            log.warning("dropping a message on %s: %s", msg.topic, e)
            return
        if msg.topic == self.replies:
            with self._lock:
                waiter = self._waiting.get(getattr(msg.properties, "CorrelationData", b""))
            if waiter:
                waiter[1] = body
                waiter[0].set()
        elif self.on_message:
            self.on_message(msg.topic, body)
# [END mqtt_client]
