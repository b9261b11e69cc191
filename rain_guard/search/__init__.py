"""RAIN itself: settings, the search tree, the steps, the LangGraph search and its runs.

Free of LangChain chat types and of torch: the model comes in through a ``Backend`` and the
judge through an ``Evaluator``.
"""
