module @sampling_loop attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%v0: tensor<2x16xf32>, %v1: tensor<2xui64>) -> (tensor<2x4xi32>, tensor<2xui64>) {
    %v2 = "stablehlo.constant"() {value = dense<0> : tensor<2x4xi32>} : () -> tensor<2x4xi32>
    %v3 = "stablehlo.constant"() {value = dense<0> : tensor<i32>} : () -> tensor<i32>
    %v37:3 = "stablehlo.while"(%v3, %v1, %v2) ({
    ^bb0(%v4: tensor<i32>, %v5: tensor<2xui64>, %v6: tensor<2x4xi32>):
      %v7 = "stablehlo.constant"() {value = dense<4> : tensor<i32>} : () -> tensor<i32>
      %v8 = "stablehlo.compare"(%v4, %v7) {comparison_direction = #stablehlo<comparison_direction LT>, compare_type = #stablehlo<comparison_type SIGNED>} : (tensor<i32>, tensor<i32>) -> tensor<i1>
      "stablehlo.return"(%v8) : (tensor<i1>) -> ()
    }, {
    ^bb0(%v9: tensor<i32>, %v10: tensor<2xui64>, %v11: tensor<2x4xi32>):
      %v12:2 = "stablehlo.rng_bit_generator"(%v10) {rng_algorithm = #stablehlo<rng_algorithm THREE_FRY>} : (tensor<2xui64>) -> (tensor<2xui64>, tensor<2x16xui32>)
      %v13 = "stablehlo.constant"() {value = dense<9> : tensor<ui32>} : () -> tensor<ui32>
      %v14 = "stablehlo.broadcast_in_dim"(%v13) {broadcast_dimensions = array<i64>} : (tensor<ui32>) -> tensor<2x16xui32>
      %v15 = "stablehlo.shift_right_logical"(%v12#1, %v14) : (tensor<2x16xui32>, tensor<2x16xui32>) -> tensor<2x16xui32>
      %v16 = "stablehlo.constant"() {value = dense<1065353216> : tensor<ui32>} : () -> tensor<ui32>
      %v17 = "stablehlo.broadcast_in_dim"(%v16) {broadcast_dimensions = array<i64>} : (tensor<ui32>) -> tensor<2x16xui32>
      %v18 = "stablehlo.or"(%v15, %v17) : (tensor<2x16xui32>, tensor<2x16xui32>) -> tensor<2x16xui32>
      %v19 = "stablehlo.bitcast_convert"(%v18) : (tensor<2x16xui32>) -> tensor<2x16xf32>
      %v20 = "stablehlo.constant"() {value = dense<1.0e0> : tensor<f32>} : () -> tensor<f32>
      %v21 = "stablehlo.broadcast_in_dim"(%v20) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<2x16xf32>
      %v22 = "stablehlo.subtract"(%v19, %v21) : (tensor<2x16xf32>, tensor<2x16xf32>) -> tensor<2x16xf32>
      %v23 = "stablehlo.constant"() {value = dense<1.1754943508222875e-38> : tensor<f32>} : () -> tensor<f32>
      %v24 = "stablehlo.broadcast_in_dim"(%v23) {broadcast_dimensions = array<i64>} : (tensor<f32>) -> tensor<2x16xf32>
      %v25 = "stablehlo.maximum"(%v22, %v24) : (tensor<2x16xf32>, tensor<2x16xf32>) -> tensor<2x16xf32>
      %v26 = "stablehlo.log"(%v25) : (tensor<2x16xf32>) -> tensor<2x16xf32>
      %v27 = "stablehlo.negate"(%v26) : (tensor<2x16xf32>) -> tensor<2x16xf32>
      %v28 = "stablehlo.log"(%v27) : (tensor<2x16xf32>) -> tensor<2x16xf32>
      %v29 = "stablehlo.negate"(%v28) : (tensor<2x16xf32>) -> tensor<2x16xf32>
      %v30 = "stablehlo.add"(%v0, %v29) : (tensor<2x16xf32>, tensor<2x16xf32>) -> tensor<2x16xf32>
      %v31_iota = "stablehlo.iota"() {iota_dimension = 1 : i64} : () -> tensor<2x16xi32>
      %v31_vinit = "stablehlo.constant"() {value = dense<0xFF800000> : tensor<f32>} : () -> tensor<f32>
      %v31_iinit = "stablehlo.constant"() {value = dense<0> : tensor<i32>} : () -> tensor<i32>
      %v31_r:2 = "stablehlo.reduce"(%v30, %v31_iota, %v31_vinit, %v31_iinit) ({
        ^bb0(%v31_av: tensor<f32>, %v31_ai: tensor<i32>, %v31_bv: tensor<f32>, %v31_bi: tensor<i32>):
          %v31_gt = "stablehlo.compare"(%v31_av, %v31_bv) {comparison_direction = #stablehlo<comparison_direction GT>, compare_type = #stablehlo<comparison_type FLOAT>} : (tensor<f32>, tensor<f32>) -> tensor<i1>
          %v31_eq = "stablehlo.compare"(%v31_av, %v31_bv) {comparison_direction = #stablehlo<comparison_direction EQ>, compare_type = #stablehlo<comparison_type FLOAT>} : (tensor<f32>, tensor<f32>) -> tensor<i1>
          %v31_lt = "stablehlo.compare"(%v31_ai, %v31_bi) {comparison_direction = #stablehlo<comparison_direction LT>, compare_type = #stablehlo<comparison_type SIGNED>} : (tensor<i32>, tensor<i32>) -> tensor<i1>
          %v31_tie = "stablehlo.and"(%v31_eq, %v31_lt) : (tensor<i1>, tensor<i1>) -> tensor<i1>
          %v31_pick = "stablehlo.or"(%v31_gt, %v31_tie) : (tensor<i1>, tensor<i1>) -> tensor<i1>
          %v31_v = "stablehlo.select"(%v31_pick, %v31_av, %v31_bv) : (tensor<i1>, tensor<f32>, tensor<f32>) -> tensor<f32>
          %v31_i = "stablehlo.select"(%v31_pick, %v31_ai, %v31_bi) : (tensor<i1>, tensor<i32>, tensor<i32>) -> tensor<i32>
          "stablehlo.return"(%v31_v, %v31_i) : (tensor<f32>, tensor<i32>) -> ()
      }) {dimensions = array<i64: 1>} : (tensor<2x16xf32>, tensor<2x16xi32>, tensor<f32>, tensor<i32>) -> (tensor<2xf32>, tensor<2xi32>)
      %v32 = "stablehlo.reshape"(%v31_r#1) : (tensor<2xi32>) -> tensor<2x1xi32>
      %v33 = "stablehlo.constant"() {value = dense<0> : tensor<i32>} : () -> tensor<i32>
      %v34 = "stablehlo.constant"() {value = dense<1> : tensor<i32>} : () -> tensor<i32>
      %v35 = "stablehlo.add"(%v9, %v34) : (tensor<i32>, tensor<i32>) -> tensor<i32>
      %v36 = "stablehlo.dynamic_update_slice"(%v11, %v32, %v33, %v9) : (tensor<2x4xi32>, tensor<2x1xi32>, tensor<i32>, tensor<i32>) -> tensor<2x4xi32>
      "stablehlo.return"(%v35, %v12#0, %v36) : (tensor<i32>, tensor<2xui64>, tensor<2x4xi32>) -> ()
    }) : (tensor<i32>, tensor<2xui64>, tensor<2x4xi32>) -> (tensor<i32>, tensor<2xui64>, tensor<2x4xi32>)
    return %v37#2, %v37#1 : tensor<2x4xi32>, tensor<2xui64>
  }
}
