"""Pricing: what a request cost in USD, from a price table kept in the repository, in Decimal only.

- ``prices``: the table (Anthropic API list prices per million tokens for every mapped model, the Bedrock
  geography multipliers) and where each number came from.
- ``overrides``: admin changes to the table, validated with errors that name the model and the field.
- ``table``: ``PriceTable.load(overrides)``, ``price_for(model, route, bedrock_model_id)`` and
  ``cost_of(tokens, model, route, bedrock_model_id)`` -> ``Cost(usd, known, snapshot)``.
"""
