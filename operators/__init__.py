"""The add-on's operators, and only those (the work behind them lives in client/, scene/, ui/).

``modal_base`` is the shared base of the timer-driven ones (reconstruct, batch, installer).
"""
