"""The backend's side of a ticket: what to print for an order, and sending it
to the restaurant's box over MQTT (recommended) or HTTP."""


# [START kitchen_ticket]
def kitchen_ticket(order):
    """The document for an order's kitchen ticket: blocks, not ESC/POS.

    The box encodes it for whatever printer model is on the wall, in a code
    page that prints ñ, á, ¿ and € correctly.
    """
    doc = [
        {"text": "COCINA", "align": "center", "bold": True, "width": 2, "height": 2},
        {"text": f"Mesa {order['table']} · {order['waiter']}"},
        {"line": "-"},
    ]
    for item in order["items"]:
        doc.append({"columns": [f"{item['qty']}x {item['name']}", item.get("price", "")]})
        if item.get("note"):
            doc.append({"text": item["note"], "underline": True})
    doc += [{"feed": 2}, {"cut": "partial"}]
    return doc
# [END kitchen_ticket]


# [START send_order_mqtt]
def send_order_over_mqtt(box, prefix, order):
    """Queue the kitchen ticket of order on the box under prefix
    ("comandera/restaurant-12"); box is a connected ComanderaMQTT.

    Returns when the broker has the job. The box prints it when it can (at
    once, or when it is back online) and reports on {prefix}/events.
    """
    box.send_job(prefix, {
        "printer": "kitchen",
        "document": kitchen_ticket(order),
        "idempotency_key": f"order-{order['id']}-kitchen",  # one ticket, however often it is sent
        "metadata": {"order": order["id"]},
        "expires_in": "15m",  # never printed later than this
    })
# [END send_order_mqtt]


# [START send_order_http]
def send_order_over_http(api, order, callback_url):
    """Queue the kitchen ticket of order through the box's HTTP API; api is a
    ComanderaHTTP for the box's address on the VPN or tunnel. Returns the job.

    callback_url receives the job's state changes, signed; it must start with
    one of the box's server.backends prefixes.
    """
    return api.print_ticket("kitchen", kitchen_ticket(order), f"order-{order['id']}-kitchen",
                            callback_url=callback_url, metadata={"order": order["id"]})
# [END send_order_http]
