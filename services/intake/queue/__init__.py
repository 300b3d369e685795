"""Queue tickets, counters and pagers (số thứ tự, quầy, thẻ rung) — intake's part of issue 5.

`wiring.install_queue(app, runtime, settings)` adds it to intake's app: the router, the error
handlers, the documented `queue.*` events, and the service built in the app's lifespan.
"""
