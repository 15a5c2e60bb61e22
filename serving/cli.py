def register(sub):  # placeholder until export lands
    pass
