"""Recipes: the schema and how YAML files become validated :class:`Recipe` objects."""

from sslctl.recipe.load import flatten, load_recipe, recipe_hash, to_dict, to_yaml, validate
from sslctl.recipe.schema import Recipe

__all__ = ["Recipe", "flatten", "load_recipe", "recipe_hash", "to_dict", "to_yaml", "validate"]
