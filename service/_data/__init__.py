"""Data installed with the package: ``maps`` (templates, static assets, measures.json) and
``boundaries`` (GeoParquet), copied from the checkout's top-level folders by setup.py."""
