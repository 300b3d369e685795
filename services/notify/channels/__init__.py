"""Channel adapters: one interface (`ChannelAdapter`), one adapter per provider protocol."""

from services.notify.channels.base import ChannelAdapter
from services.notify.channels.email import SmtpAdapter
from services.notify.channels.sms import BrandnameSmsAdapter, SmsGatewayConfig
from services.notify.channels.zalo import ZaloConfig, ZaloZnsAdapter

__all__ = ["BrandnameSmsAdapter", "ChannelAdapter", "SmsGatewayConfig", "SmtpAdapter", "ZaloConfig", "ZaloZnsAdapter"]
