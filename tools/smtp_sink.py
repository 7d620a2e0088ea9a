"""A small SMTP server for tests and CI: accepts mail on --host/--port and writes each message
into a Maildir (one file per message under MAILDIR/new/), as aiosmtpd's Mailbox handler does.

Recipients whose local part starts with "reject" are refused with 550 (a permanent failure), and
with --tempfail-prefix, those starting with that prefix get 450 (a temporary one), so tests can
provoke both. With --rules FILE, the server answers RCPT TO as the file says (read at every
RCPT TO), so a test can make a relay throttle (421, 451, 452) or bounce chosen addresses (550)
and later accept them again. One rule a line, the first that matches wins:

    PREFIX REPLY        e.g.  ben.3f2a 550 5.1.1 mailbox unavailable
    * REPLY                   (every recipient)  * 421 4.7.0 too many messages, slow down

PREFIX is the start of the recipient's local part. Each stored message starts with an
X-Sink-Order header, 1 for the first message received, so tests can check the order of arrival.
Run it with a Python that has aiosmtpd:

    .ci/venv/bin/python tools/smtp_sink.py --port 2525 --maildir /tmp/maildir
"""

import argparse
import asyncio
import mailbox
import os
import signal
import sys

from aiosmtpd.smtp import SMTP


class Rules:
    """The --rules file, read at every RCPT TO (it is a few lines), so a change applies at once."""

    def __init__(self, path):
        self.path = path

    def reply_for(self, local):
        if not self.path:
            return None
        try:
            with open(self.path, encoding="utf-8") as rules:
                lines = rules.readlines()
        except FileNotFoundError:
            return None
        for line in lines:
            parts = line.strip().split(None, 1)
            if len(parts) == 2 and not parts[0].startswith("#"):
                prefix, reply = parts[0].lower(), parts[1]
                if prefix == "*" or local.startswith(prefix):
                    return reply
        return None


class MaildirHandler:
    def __init__(self, maildir, tempfail_prefix, rules):
        # Creates new/, cur/ and tmp/ if missing; a message is written to tmp/ then renamed into
        # new/, so a reader never sees half a message.
        os.makedirs(os.path.dirname(os.path.abspath(maildir)), exist_ok=True)
        self.maildir = mailbox.Maildir(maildir, factory=None, create=True)
        self.tempfail_prefix = (tempfail_prefix or "").lower()
        self.rules = Rules(rules)
        self.received = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        reply = self.rules.reply_for(local)
        if reply:
            return reply
        if local.startswith("reject"):
            return "550 5.1.1 mailbox unavailable"
        if self.tempfail_prefix and local.startswith(self.tempfail_prefix):
            return "450 4.2.1 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        self.received += 1
        self.maildir.add(b"X-Sink-Order: %d\r\n" % self.received + content)
        return "250 OK: queued"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--maildir", required=True)
    parser.add_argument("--tempfail-prefix", default="", help="answer 450 to recipients starting with this")
    parser.add_argument("--rules", default="", help="file of PREFIX REPLY lines for RCPT TO, read when it changes")
    args = parser.parse_args()

    handler = MaildirHandler(args.maildir, args.tempfail_prefix, args.rules)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(
        loop.create_server(
            lambda: SMTP(handler, hostname="smtp-sink.test", decode_data=False, enable_SMTPUTF8=True),
            host=args.host,
            port=args.port,
        )
    )
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, loop.stop)
    print(f"smtp_sink listening on {args.host}:{args.port}, writing {args.maildir}", flush=True)
    try:
        loop.run_forever()
    finally:
        server.close()
        loop.run_until_complete(server.wait_closed())
    return 0


if __name__ == "__main__":
    sys.exit(main())
