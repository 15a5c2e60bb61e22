"""Fixtures for the serving tests live in serving_testkit; pytest finds them through here."""

from serving_testkit import (  # noqa: F401
    classifier_path,
    classifier_server,
    client,
    foreign_model_path,
    int_classifier_path,
    make_client,
    model_dir,
    penguins_model,
    regressor_path,
    start_server,
)
