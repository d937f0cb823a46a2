"""Step decay by gamma at the given epochs (milestone_epochs) or iterations (milestones)."""

sched = dict(type="multistep", milestones=None, milestone_epochs=None, gamma=0.1)
