"""Payment channel adapters: one interface (`base.ChannelAdapter`), one adapter per channel."""
