"""Return predictors (deep and baseline), their training, evaluation metrics and saved runs."""
