"""Tuning jobs in virtual time: the real tuner and store, training jobs replayed from curves.

engine.Engine(SimulationSettings(...)).run(request, curve_source) -> report.Outcome
curves.SyntheticCurves / curves.RecordedCurves      where curves come from
pacing.paced_durations                              `--epoch-seconds`: epochs at the user's pace
compare.Variant / compare.summarise / compare.table  `amt simulate --compare`
cli.add_simulate_parser / cli.simulate              `amt simulate`
"""
