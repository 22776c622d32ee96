"""The statistics bench/key_timing.py judges timing differences with, checked against known answers."""

import random

import pytest

from bench.key_timing import hodges_lehmann, mann_whitney_p


def test_mann_whitney_matches_the_textbook_normal_approximation():
    # U = 0 for fully separated samples of 5: z = (12.5 - 0.5) / sqrt(25 * 11 / 12), p = 0.0122 (scipy agrees).
    assert mann_whitney_p([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) == pytest.approx(0.01219, abs=1e-4)
    assert mann_whitney_p([1, 2, 3], [1, 2, 3]) == pytest.approx(1.0)


def test_mann_whitney_tells_a_shift_from_noise():
    rng = random.Random(7)
    reference = [rng.gauss(1.0, 0.1) for _ in range(300)]
    same = [rng.gauss(1.0, 0.1) for _ in range(300)]
    shifted = [rng.gauss(1.05, 0.1) for _ in range(300)]
    assert mann_whitney_p(same, reference) > 0.05
    assert mann_whitney_p(shifted, reference) < 1e-6


def test_hodges_lehmann_finds_the_shift_and_brackets_it():
    rng = random.Random(11)
    reference = [rng.expovariate(1.0) for _ in range(200)]
    shift, low, high = hodges_lehmann([value + 0.3 for value in reference], reference)
    assert shift == pytest.approx(0.3, abs=0.1)
    assert low <= 0.3 <= high and low < shift < high
