// placeholder: run web/build.sh
