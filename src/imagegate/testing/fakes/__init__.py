"""testing/fakes"""
