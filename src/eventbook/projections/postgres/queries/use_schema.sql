SET LOCAL search_path = {schema}
