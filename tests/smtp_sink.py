#!/usr/bin/env python3
"""A real SMTP server for the tests: stores every message it accepts as a
JSON file in DIR (envelope sender and recipients, decoded subject, text and
HTML parts) before answering 250, so a sender that got its 250 finds the file.
Writes DIR/ready once it listens.  Needs aiosmtpd (pip install aiosmtpd).

    python3 tests/smtp_sink.py DIR PORT [--delay SECONDS]
"""
import asyncio, email, email.policy, json, os, sys, time, uuid

from aiosmtpd.controller import Controller


class Store:
    def __init__(self, folder, delay):
        self.folder, self.delay = folder, delay

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        text = html = ""
        for part in msg.walk():
            ct = part.get_content_type()
            if ct == "text/plain" and not text:
                text = part.get_content()
            elif ct == "text/html" and not html:
                html = part.get_content()
        rec = {
            "from": envelope.mail_from,
            "to": list(envelope.rcpt_tos),
            "header_from": str(msg.get("From", "")),
            "subject": str(msg.get("Subject", "")),
            "text": text,
            "html": html,
        }
        name = f"{time.time_ns()}-{uuid.uuid4().hex}"
        tmp = os.path.join(self.folder, name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(rec, f, ensure_ascii=False)
        os.rename(tmp, os.path.join(self.folder, name + ".json"))
        return "250 OK"


def main():
    folder, port = sys.argv[1], int(sys.argv[2])
    delay = float(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--delay" else 0.0
    os.makedirs(folder, exist_ok=True)
    c = Controller(Store(folder, delay), hostname="127.0.0.1", port=port)
    c.start()
    open(os.path.join(folder, "ready"), "w").close()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        c.stop()


if __name__ == "__main__":
    main()
