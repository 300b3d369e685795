"""E-mail channel: SMTP through aiosmtplib (the embedded stack uses the dev SMTP server)."""

from __future__ import annotations

from email.message import EmailMessage
from urllib.parse import urlparse

import aiosmtplib

from services.notify.model import OutgoingEmail


class SmtpMailer:
    def __init__(self, smtp_url: str, sender: str) -> None:
        parsed = urlparse(smtp_url)
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or (465 if parsed.scheme == "smtps" else 25)
        self.use_tls = parsed.scheme == "smtps"
        self.start_tls = parsed.scheme == "smtp+starttls"
        self.username = parsed.username
        self.password = parsed.password
        self.sender = sender

    @property
    def sender_domain(self) -> str:
        return self.sender.rsplit("@", 1)[-1].rstrip(">") or "motcua.local"

    async def send(self, mail: OutgoingEmail) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Message-ID"] = mail.message_id
        message.set_content(mail.body)
        await aiosmtplib.send(
            message,
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.use_tls,
            start_tls=self.start_tls or None,
            timeout=10,
        )
