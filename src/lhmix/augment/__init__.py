"""Training-set augmentation, the data-augmentation baselines of LH-Mix's Table 7: EDA (Wei and Zou
2019) and back-translation, each written as a complete processed dataset that training reads like any
other (data/processed/<dataset>_eda, data/processed/<dataset>_bt)."""
