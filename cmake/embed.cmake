# cartlm_embed(TARGET FILE SYMBOL): compiles FILE into TARGET as
#   extern const char SYMBOL[]; extern const unsigned long SYMBOL_size;
# (the user declares them itself). Regenerated when FILE changes.
function(cartlm_embed target file symbol)
  set(out ${CMAKE_BINARY_DIR}/embedded/${symbol}.cpp)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DIN=${file} -DOUT=${out} -DSYMBOL=${symbol}
            -P ${CMAKE_SOURCE_DIR}/cmake/embed_file.cmake
    DEPENDS ${file} ${CMAKE_SOURCE_DIR}/cmake/embed_file.cmake
    COMMENT "Embedding ${file}")
  target_sources(${target} PRIVATE ${out})
endfunction()
