"""Schedules: pure functions ``step -> learning rate``, grouped by family."""

# [schedules: optax-named]
# [schedules: new]
