"""The messaging service: conversations between a task's owner and each tasker who offered."""
