from schemas import codegen


def test_models_module_is_generated_from_the_current_schemas():
    generated = codegen.formatted(codegen.render(codegen.load_schemas()))
    assert (codegen.HERE / "models.py").read_text() == generated, "run `python -m schemas.codegen`"
