"""Research: raw tabular data + a TOML config -> a fitted, reproducible scikit-learn Pipeline."""
