add_test(NAME layering COMMAND sh ${PROJECT_SOURCE_DIR}/tools/check-layers.sh)
