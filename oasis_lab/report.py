"""placeholder"""
def register_cli(sub): pass
