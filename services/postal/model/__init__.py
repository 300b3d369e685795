"""Postal's domain (Decision 45/2016/QĐ-TTg): pickup orders, dispatch slips, hand-over records,
result deliveries, fees and charges, postal staff at counters. Pure: no I/O, time comes in."""
