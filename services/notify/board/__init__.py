"""Display board and vibrating pagers (bảng hiển thị, thẻ rung) — notify's part of issue 5.

`wiring.install_board(app, runtime, settings)` adds it to notify's app: the durable consumers
(`services/contracts/queue.py`), the SSE/snapshot/announcement endpoints, and the pager
dispatcher task. `python -m services.notify.board.pager_sim` is the local pager gateway.
"""
