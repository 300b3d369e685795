"""Notify's persistence (its own MongoDB database): deliveries, templates, preferences,
office contacts, the projection of open dossiers, reminders and their digests."""

from services.notify.repository.config import ContactRepository, PreferenceRepository, TemplateRepository
from services.notify.repository.deliveries import DeliveryRepository
from services.notify.repository.dossiers import DossierRepository, ReminderRepository

__all__ = [
    "ContactRepository",
    "DeliveryRepository",
    "DossierRepository",
    "PreferenceRepository",
    "ReminderRepository",
    "TemplateRepository",
]
