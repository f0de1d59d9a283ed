"""faust-streaming agents: the dialog state machine, the speech workers and the analytics."""
