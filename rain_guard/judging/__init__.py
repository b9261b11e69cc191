"""What "good" means and who says it.

Criteria, their prompts, and the evaluators that score partial answers during the search
(self-evaluation, functions, classifiers, chat models).
"""
