"""notebooks/explore.ipynb runs top to bottom on a generated lake (its own kernel, its own Spark)."""

import os

import pytest

NOTEBOOK = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "notebooks", "explore.ipynb")


@pytest.mark.slow
def test_the_notebook_answers_the_questions_on_generated_data(loaded, monkeypatch):
    """The notebook runs top to bottom in its own kernel against a real lake."""
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    monkeypatch.setenv("ECOM_ETL_WAREHOUSE", loaded[1].root)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": os.path.dirname(NOTEBOOK)}}
    ).execute()

    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "best month:" in text and "invoices without a known customer:" in text
    charts = [o for o in outputs if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert len(charts) == 4
