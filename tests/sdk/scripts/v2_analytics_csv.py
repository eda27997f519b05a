"""SDK v2 analytics exported as `amt curves import --csv` reads them: every training job's
`TrainingJobAnalytics(job, period=1).dataframe()` with a `TrainingJobName` column, merged with
the tuning job's `HyperparameterTuningJobAnalytics(...).dataframe()` on it, `to_csv()`."""

from __future__ import annotations

import harness
import pandas as pd
from sagemaker.analytics import HyperparameterTuningJobAnalytics, TrainingJobAnalytics


def main() -> None:
    a = harness.args()
    session = harness.v2_session(a["bucket"])
    tuning = HyperparameterTuningJobAnalytics(a["job"], sagemaker_session=session).dataframe()
    frames = [
        TrainingJobAnalytics(job, sagemaker_session=session, period=1)
        .dataframe()
        .assign(TrainingJobName=job)
        for job in tuning["TrainingJobName"]
    ]
    pd.concat(frames).merge(tuning, on="TrainingJobName").to_csv(a["out"])
    harness.emit({"columns": sorted(set(frames[0].columns) | set(tuning.columns))})


if __name__ == "__main__":
    main()
