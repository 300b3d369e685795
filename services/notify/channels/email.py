"""E-mail through SMTP (aiosmtplib); the embedded stack and the tests use the dev SMTP server."""

from __future__ import annotations

from email.message import EmailMessage
from urllib.parse import unquote, urlparse

import aiosmtplib

from services.notify.model.common import Channel
from services.notify.model.delivery import OutboundMessage, OutcomeKind, SendOutcome


class SmtpAdapter:
    """`smtp://user:pass@host:port`, `smtps://…` (TLS), `smtp+starttls://…`."""

    def __init__(self, smtp_url: str, sender: str, *, timeout_s: float = 10.0, name: str = "smtp") -> None:
        parsed = urlparse(smtp_url)
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or (465 if parsed.scheme == "smtps" else 25)
        self.use_tls = parsed.scheme == "smtps"
        self.start_tls = parsed.scheme == "smtp+starttls"
        self.username = unquote(parsed.username) if parsed.username else None
        self.password = unquote(parsed.password) if parsed.password else None
        self.sender = sender
        self.timeout_s = timeout_s
        self._name = name

    @property
    def channel(self) -> Channel:
        return Channel.EMAIL

    @property
    def provider(self) -> str:
        return self._name

    @property
    def sender_domain(self) -> str:
        return self.sender.rsplit("@", 1)[-1].rstrip(">") or "motcua.local"

    def message_id(self, delivery_id: str) -> str:
        """Deterministic: a resend after a crash is recognisable as the same mail."""
        return f"<{delivery_id}@{self.sender_domain}>"

    async def send(self, message: OutboundMessage) -> SendOutcome:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail["Message-ID"] = message.message_id or self.message_id(message.delivery_id)
        mail["X-Motcua-Delivery"] = message.delivery_id
        mail.set_content(message.body)
        try:
            await aiosmtplib.send(
                mail,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.use_tls,
                start_tls=self.start_tls or None,
                timeout=self.timeout_s,
                local_hostname=self.sender_domain,  # else a getfqdn() in a thread per mail
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [err.code for err in exc.recipients]
            kind = OutcomeKind.PERMANENT if codes and all(c >= 500 for c in codes) else OutcomeKind.TEMPORARY
            return SendOutcome(kind=kind, detail=f"recipient refused: {codes}")
        except aiosmtplib.SMTPResponseException as exc:
            kind = OutcomeKind.TEMPORARY if 400 <= exc.code < 500 else OutcomeKind.TECHNICAL
            return SendOutcome(kind=kind, detail=f"SMTP {exc.code}: {exc.message}"[:300])
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return SendOutcome(kind=OutcomeKind.TECHNICAL, detail=f"{type(exc).__name__}: {exc}"[:300])
        return SendOutcome(kind=OutcomeKind.ACCEPTED, provider_message_id=str(mail["Message-ID"]))
