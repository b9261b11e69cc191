"""Graders: label finished answers for reports.

Refusal strings, a chat-model grader, and their agreement with human labels. Graders never
steer a search (that is ``rain_guard.judging``).
"""
