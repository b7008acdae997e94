"""The gallery: curated examples from the catalog, images published from the playground or the API, and (once the
arena exists) its battles' images. ``store`` holds the published ones, ``sources`` merges every source into pages."""
