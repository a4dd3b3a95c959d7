"""Demo data: the demo college a newcomer signs in to (:mod:`.college`), and a generated consortium of any size
with years of history (:mod:`.generate`), both written by the same code as live actions."""
