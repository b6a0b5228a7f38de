"""Ready-made training loops on the package (the cookbook's ``training.recipes``): ``sft_loop``."""
