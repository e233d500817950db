"""Scripts that serve the series: the headless notebook runner, the book builder, the README chart."""
