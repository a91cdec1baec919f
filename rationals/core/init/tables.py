APPROX_FUNCS = ()

def initial_coefficients():
    pass
