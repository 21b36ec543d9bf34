"""A/B tests: inventory, per-user data, design (sample size, power), statistics (SRM, z/Welch, CUPED, sequential, multiple testing), analysis and verdicts, holdout incrementality."""
