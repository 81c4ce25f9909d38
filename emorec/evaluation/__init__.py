"""Analyses over finished runs' saved predictions: every fold's per-clip probabilities of its
validation and test actors (`predictions`), each run's summary.json (`runs`), and what is
done with them without training again: per-speaker centring (`centring`), late fusion
(`fusion`), the paired bootstrap over test actors (`paired`) and comparison tables
(`tables`). `python -m emorec.evaluation` (or `emorec-evaluate`) runs them."""
