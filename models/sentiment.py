"""Sentiment of signal texts by VADER, the lexicon model the vaderSentiment package ships.

VADER (Hutto and Gilbert, 2014, "VADER: A Parsimonious Rule-based Model for Sentiment Analysis
of Social Media Text", ICWSM) sums the valences of the lexicon words of a text, adjusted by
its rules (negation, boosters, "but", capitals, exclamation marks), and reports

    compound = x / sqrt(x^2 + 15)   (x: the adjusted sum; alpha = 15),  in [-1, 1],

with pos / neu / neg the shares of the text's valence that are positive, neutral and negative.
The lexicon is a file inside the package: nothing is downloaded. Scores are recorded with the
model name and the installed package version, so a new version adds rows instead of
silently changing old ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib.metadata import version

import pandas as pd
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

MODEL = "vaderSentiment"
MODEL_VERSION = version("vaderSentiment")
SCORE_COLUMNS = ("compound", "positive", "neutral", "negative")


@cache
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()  # reads the lexicon file once per process


def score_texts(texts: Iterable[str]) -> pd.DataFrame:
    """One row of VADER scores per text, in order (columns SCORE_COLUMNS)."""
    analyzer = _analyzer()
    rows = []
    for text in texts:
        scores = analyzer.polarity_scores(text)
        rows.append((scores["compound"], scores["pos"], scores["neu"], scores["neg"]))
    return pd.DataFrame(rows, columns=list(SCORE_COLUMNS), dtype=float)
